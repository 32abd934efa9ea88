create table users (id int primary key, email text);
