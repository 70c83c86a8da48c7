# file: the path is the directory to copy into, as with Ansible's copy (dest ending in "/").
play "site" {
  hosts = ["web"]

  file "nginx-app" {
    path   = "/etc/nginx/conf.d/"
    source = "files/app.conf"
  }
}
