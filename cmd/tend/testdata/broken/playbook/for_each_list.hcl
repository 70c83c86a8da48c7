# for_each over a list, as a Terraform user might write it without toset().
play "site" {
  hosts = ["web"]

  directory "app-dirs" {
    for_each = ["/srv/app/static", "/srv/app/media"]
    path     = each.value
  }
}
