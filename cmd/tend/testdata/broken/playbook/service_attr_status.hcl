# service: "status" instead of "state".
play "site" {
  hosts = ["web"]

  service "nginx" {
    status = "started"
  }
}
