# file: no content, source or template.
play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    owner = "app"
    mode  = "0640"
  }
}
