# file: the template file does not exist (templates/site.tpl.j2 is a Jinja leftover).
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    template = "templates/site.tpl.j2"
    vars     = { sock = "/run/staffrota.sock" }
  }
}
