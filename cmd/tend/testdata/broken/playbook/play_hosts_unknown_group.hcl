# The play's hosts name a group the inventory does not have ("webservers"; it is "web").
# Inventory-relative: without -i, validate only warns (the plays' hosts name an inventory it was not given).
play "site" {
  hosts = ["webservers"]

  file "/etc/motd" {
    content = "Managed by tend\n"
  }
}
