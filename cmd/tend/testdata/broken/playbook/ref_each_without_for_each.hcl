# each.key in a task that has no for_each.
play "site" {
  hosts = ["web"]

  directory "app" {
    path = "/srv/${each.key}"
  }
}
