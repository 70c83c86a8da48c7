# notify lists a reference instead of the handler's name as a string.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = [handler.reload-nginx]
  }

  handler "reload-nginx" {
    service "nginx" { state = "reloaded" }
  }
}
