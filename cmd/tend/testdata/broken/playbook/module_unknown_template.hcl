# Ansible's "template" module: in tend a template is a file task's attribute.
play "site" {
  hosts = ["web"]

  template "/etc/nginx/sites-enabled/app" {
    src = "templates/site.tpl"
  }
}
