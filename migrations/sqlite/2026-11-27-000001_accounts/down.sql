DROP TABLE refresh_tokens;
DROP TABLE user_roles;
DROP TABLE users;
