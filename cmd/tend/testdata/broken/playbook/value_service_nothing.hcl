# service: neither state nor enabled: the task manages nothing.
play "site" {
  hosts = ["web"]

  service "nginx" {
    daemon_reload = true
  }
}
