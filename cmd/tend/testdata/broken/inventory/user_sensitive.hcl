# The login user marked sensitive: connection settings are shown everywhere.
defaults {
  user = sensitive(env("DEPLOY_USER", "deploy"))
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
