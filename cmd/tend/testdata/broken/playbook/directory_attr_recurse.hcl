# directory: Ansible's "recurse" does not exist in tend.
play "site" {
  hosts = ["web"]

  directory "/srv/app" {
    owner   = "app"
    recurse = true
  }
}
