# command: "create" instead of the guard "creates".
play "site" {
  hosts = ["web"]

  command "init-db" {
    run    = "/srv/app/bin/init-db && touch /srv/app/.db-initialised"
    create = "/srv/app/.db-initialised"
  }
}
