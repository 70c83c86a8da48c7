# file: both content and source.
play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    content = "workers = 2\n"
    source  = "files/app.conf"
  }
}
