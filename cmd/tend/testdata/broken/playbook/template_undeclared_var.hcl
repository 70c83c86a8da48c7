# The template uses ${server_name}, which vars does not give (templates/site_undeclared_var.tpl, line 3).
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    template = "templates/site_undeclared_var.tpl"
    vars     = { sock = "/run/staffrota.sock" }
  }
}
