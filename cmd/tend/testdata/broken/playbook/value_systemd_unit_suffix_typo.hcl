# systemd_unit: the unit type is misspelt ("app.servcie"): tend would manage "app.servcie.service".
play "site" {
  hosts = ["web"]

  systemd_unit "app.servcie" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
    state = "started"
  }
}
