# A handler holds two module blocks; it must hold exactly one.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = ["reload-web"]
  }

  handler "reload-web" {
    service "nginx" { state = "reloaded" }
    service "php-fpm" { state = "reloaded" }
  }
}
