# file: a relative path on the host (the leading "/" is missing).
play "site" {
  hosts = ["web"]

  file "etc/app/app.conf" {
    content = "workers = 2\n"
  }
}
