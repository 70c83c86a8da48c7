# systemd_unit: content and a service block at once.
play "site" {
  hosts = ["web"]

  systemd_unit "app.service" {
    content = "[Service]\nExecStart=/srv/app/bin/app\n"
    service {
      Restart = "always"
    }
  }
}
