# file: mode "0999" holds digits that are not octal.
play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    content = "workers = 2\n"
    mode    = "0999"
  }
}
