# systemd_unit: the section block is written [Service]-style, "Service", not "service".
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    Service {
      ExecStart = "/srv/app/bin/app"
    }
  }
}
