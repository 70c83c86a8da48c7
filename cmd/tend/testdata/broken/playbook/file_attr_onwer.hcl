# file: "onwer" instead of "owner".
play "site" {
  hosts = ["web"]

  file "/etc/app/app.conf" {
    content = "workers = 2\n"
    onwer   = "app"
  }
}
