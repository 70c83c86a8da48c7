# health_check: timeout = 5 without a unit; it takes a duration like "5s".
play "site" {
  hosts = ["web"]

  health_check "app" {
    url     = "http://127.0.0.1:8000/health/"
    timeout = 5
  }
}
