# service: state = "running" (systemctl's word); tend says "started".
play "site" {
  hosts = ["web"]

  service "nginx" {
    state = "running"
  }
}
