# Two handlers with the same name.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = ["reload-nginx"]
  }

  handler "reload-nginx" {
    service "nginx" { state = "reloaded" }
  }
  handler "reload-nginx" {
    command "nginx-reload" { run = "nginx -s reload" }
  }
}
