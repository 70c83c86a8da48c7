# systemd_unit: "enable" instead of "enabled".
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
    install {
      WantedBy = "multi-user.target"
    }
    enable = true
  }
}
