# ignore_errors = "yes": Ansible's spelling; tend's meta-argument is the bool true.
play "site" {
  hosts = ["web"]

  command "warm cache" {
    run           = "/usr/local/bin/warm-cache"
    ignore_errors = "yes"
  }
}
