-- The application's schema (what its migrations would create).
create table users (
    id             serial primary key,
    email          text not null unique,
    first_name     text not null,
    last_name      text not null,
    phone          text,
    street_address text,
    city           text,
    postcode       text,
    created_at     timestamptz not null default now()
);

create table orders (
    id               serial primary key,
    user_id          int not null references users (id),
    customer_email   text not null,          -- denormalised copy of users.email
    shipping_address text not null,
    total            numeric(10, 2) not null,
    status           text not null check (status in ('paid', 'shipped', 'delivered', 'refunded')),
    note             text,
    placed_at        timestamptz not null default now()
);

create index orders_customer_email on orders (customer_email);
