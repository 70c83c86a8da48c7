# systemd_unit: settle = "soon", not a duration.
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
    state  = "started"
    settle = "soon"
  }
}
