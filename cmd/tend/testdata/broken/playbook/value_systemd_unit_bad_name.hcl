# systemd_unit: a unit name with a space in it.
play "site" {
  hosts = ["web"]

  systemd_unit "staff rota" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
  }
}
