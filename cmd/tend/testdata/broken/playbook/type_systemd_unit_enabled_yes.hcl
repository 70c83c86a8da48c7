# systemd_unit: enabled = "yes"; it takes true or false.
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
    install {
      WantedBy = "multi-user.target"
    }
    enabled = "yes"
  }
}
