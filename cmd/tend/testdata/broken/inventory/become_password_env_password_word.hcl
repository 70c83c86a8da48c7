# The sudo password itself in become_password_env, a password that happens to look like a variable name.
# (It is refused only because no variable of that name is set, and the message repeats the value.)
defaults {
  become              = true
  become_password_env = "Winter2024"
}

group "web" {
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
