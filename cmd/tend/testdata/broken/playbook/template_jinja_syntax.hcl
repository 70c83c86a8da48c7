# A template written in Jinja ({{ sock }}), as for Ansible: HCL templates interpolate ${sock}.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/sites-enabled/app" {
    template = "templates/site_jinja.tpl"
    vars     = { server_name = "staffrota.example.com", sock = "/run/staffrota.sock" }
  }
}
