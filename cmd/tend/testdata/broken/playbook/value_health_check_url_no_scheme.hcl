# health_check: a url without its http:// scheme.
play "site" {
  hosts = ["web"]

  health_check "app" {
    url = "localhost:8000/health/"
  }
}
