# A var file with an unquoted path, as in a shell or .env file.
app_dir = /srv/staffrota
