# A handler's module block uses the meta-argument when.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = "server { listen 80; }\n"
    notify  = ["reload-nginx"]
  }

  handler "reload-nginx" {
    service "nginx" {
      state = "reloaded"
      when  = true
    }
  }
}
