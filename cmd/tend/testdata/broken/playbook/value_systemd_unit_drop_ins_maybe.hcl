# systemd_unit: drop_ins = "maybe"; it takes "refuse" or "allow".
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    service {
      ExecStart = "/srv/app/bin/app"
    }
    drop_ins = "maybe"
  }
}
