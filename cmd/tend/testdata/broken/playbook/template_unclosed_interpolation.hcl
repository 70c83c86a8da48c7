# The template has an unclosed ${ interpolation (see templates/site_unclosed_interp.tpl, line 4).
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    template = "templates/site_unclosed_interp.tpl"
    vars     = { sock = "/run/staffrota.sock" }
  }
}
