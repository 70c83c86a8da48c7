# notify names a handler that does not exist ("restart-nginx"; the handler is "reload-nginx").
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = ["restart-nginx"]
  }

  handler "reload-nginx" {
    service "nginx" { state = "reloaded" }
  }
}
