COPY users (id, email) FROM stdin;
2	b@example.com
\.
