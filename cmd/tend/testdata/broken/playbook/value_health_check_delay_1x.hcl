# health_check: delay = "1x" is not a duration.
play "site" {
  hosts = ["web"]

  health_check "app" {
    url   = "http://127.0.0.1:8000/health/"
    delay = "1x"
  }
}
