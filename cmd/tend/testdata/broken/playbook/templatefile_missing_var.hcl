# templatefile(): the vars object lacks a variable the template uses (templates/site_undeclared_var.tpl, line 3).
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    content = templatefile("templates/site_undeclared_var.tpl", { sock = "/run/staffrota.sock" })
  }
}
