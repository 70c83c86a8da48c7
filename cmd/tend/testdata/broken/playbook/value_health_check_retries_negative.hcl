# health_check: retries = -1 (meant "retry forever").
play "site" {
  hosts = ["web"]

  health_check "app" {
    url     = "http://127.0.0.1:8000/health/"
    retries = -1
  }
}
