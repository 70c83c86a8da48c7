# file: the source file does not exist next to the playbook.
play "site" {
  hosts = ["web"]

  file "/etc/nginx/nginx.conf" {
    source = "files/nginx.conf"
  }
}
