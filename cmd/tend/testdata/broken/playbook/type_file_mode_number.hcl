# file: mode = 644, a number, instead of the string "0644".
play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    content = "workers = 2\n"
    mode    = 644
  }
}
