# "healthcheck" without the underscore of "health_check".
play "site" {
  hosts = ["web"]

  healthcheck "app" {
    url = "http://127.0.0.1:8000/health/"
  }
}
