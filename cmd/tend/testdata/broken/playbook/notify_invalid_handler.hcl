# The handler's module kind is misspelt ("servcie"); notify still names the handler.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = ["reload-nginx"]
  }

  handler "reload-nginx" {
    servcie "nginx" { state = "reloaded" }
  }
}
