--
-- PostgreSQL database dump
--

-- Dumped from database version 15.6
-- Dumped by pg_dump version 15.6
-- (data only: pg_dump --data-only --column-inserts is fine too; orders below were
--  dumped with --inserts --column-inserts, users with the default COPY format)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: shop
--

COPY public.users (id, email, first_name, last_name, phone, street_address, city, postcode, created_at) FROM stdin;
1	cathy.wise99@icloud.com	Cathy	Wise	+1 466 353 6989	55503 Valenzuela Crossing Apt. 654	East Davidborough	43322	2023-11-30 08:49:11+00
2	kevin.bryan97@protonmail.com	Kevin	Bryan	+1 543 217 4794	79563 Sierra Ports Suite 546	Port Jeffery	20303	2025-10-11 01:05:55+00
3	glenda.meyers87@protonmail.com	Glenda	Meyers	+1 809 327 1818	58651 Melendez Mill Suite 019	Lake Wendy	87083	2025-11-02 21:45:58+00
4	kelly.rowe46@hotmail.com	Kelly	Rowe	+1 900 816 2379	380 Hood Brook Apt. 355	Wolfeside	19638	2025-09-26 21:36:50+00
5	patricia.paul@yahoo.com	Patricia	Paul	+1 408 534 1054	97499 Christopher Walks Suite 577	Williamsport	29582	2024-03-22 09:17:00+00
6	rachel.mendez39@yahoo.com	Rachel	Mendez	+1 626 610 4442	24908 Janice Union Suite 165	Davisport	00849	2024-08-17 16:02:50+00
7	james.robinson80@hotmail.com	James	Robinson	+1 623 452 1913	9159 Coleman Harbor	New Wandachester	75587	2024-11-08 18:20:07+00
8	danielle.evans74@protonmail.com	Danielle	Evans	+1 580 485 7178	8214 Robertson Extensions	Reyesborough	56028	2025-06-29 02:45:32+00
9	mandy.manning@yahoo.com	Mandy	Manning	+1 639 902 1898	15925 Frederick Freeway	Pacehaven	03396	2025-02-25 12:49:33+00
10	lisa.ochoa@protonmail.com	Lisa	Ochoa	+1 537 915 9500	2900 Brown Manor	Jamestown	95450	2025-04-19 18:48:06+00
11	shane.white@hotmail.com	Shane	White	+1 882 625 8230	0291 Kathleen Isle Apt. 418	Sheilastad	93599	2024-08-05 12:34:52+00
12	jon.robinson@outlook.com	Jon	Robinson	+1 779 817 3944	529 Wu Orchard Suite 613	Simonview	38475	2024-06-21 21:27:42+00
13	taylor.poole8@protonmail.com	Taylor	Poole	+1 931 994 6335	558 Smith Rue Apt. 102	Lake Vickichester	90050	2023-12-04 03:21:27+00
14	tina.cameron@protonmail.com	Tina	Cameron	+1 543 755 1284	9284 Davis Burgs Apt. 701	Dennisfort	42424	2025-05-16 08:23:59+00
15	caitlyn.brewer32@yahoo.com	Caitlyn	Brewer	+1 582 990 9637	1678 Dixon Overpass Apt. 775	Hartshire	77445	2024-11-01 11:05:40+00
16	michelle.smith@protonmail.com	Michelle	Smith	+1 765 985 3392	745 Mann Plains	Ericburgh	61242	2024-10-21 03:45:43+00
17	melissa.manning96@gmail.com	Melissa	Manning	+1 470 210 8435	5623 Taylor Hill	Lake Jamiehaven	05885	2025-09-29 12:40:10+00
18	lindsey.haley@outlook.com	Lindsey	Haley	+1 289 444 6150	70134 Alan Locks Suite 145	Martinezborough	23723	2024-05-01 02:36:14+00
19	zachary.jordan57@outlook.com	Zachary	Jordan	+1 585 249 2278	836 George Falls Suite 281	Johnborough	59018	2024-08-26 02:42:31+00
20	martha.williams@outlook.com	Martha	Williams	+1 705 829 7745	375 James Locks Apt. 202	Morenomouth	37540	2025-04-26 06:01:46+00
21	robert.jones24@yahoo.com	Robert	Jones	+1 838 259 1841	9068 Jessica Trace	Welchton	41964	2023-11-29 14:43:01+00
22	paula.smith58@protonmail.com	Paula	Smith	+1 890 910 2168	0730 Stephenson Gateway	Lake Sandraberg	44880	2024-01-03 16:26:55+00
23	james.nelson48@hotmail.com	James	Nelson	+1 301 912 5713	0955 Gilbert Viaduct	East Jessicaville	99793	2025-04-04 14:54:22+00
24	brandon.perry@gmail.com	Brandon	Perry	+1 372 422 6289	0546 Larry Creek Apt. 125	Port Patricia	66977	2025-11-26 12:54:57+00
\.


--
-- Data for Name: orders; Type: TABLE DATA; Schema: public; Owner: shop
--

INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1001, 5, 'patricia.paul@yahoo.com', '97499 Christopher Walks Suite 577, Williamsport 29582', 474.52, 'delivered', NULL, '2026-04-01 14:09:08+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1002, 20, 'martha.williams@outlook.com', '375 James Locks Apt. 202, Morenomouth 37540', 442.09, 'paid', 'call before delivery', '2026-08-12 13:46:59+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1003, 11, 'shane.white@hotmail.com', '0291 Kathleen Isle Apt. 418, Sheilastad 93599', 222.35, 'paid', 'leave at the back door', '2026-03-28 13:56:55+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1004, 2, 'kevin.bryan97@protonmail.com', '79563 Sierra Ports Suite 546, Port Jeffery 20303', 216.73, 'paid', NULL, '2026-09-21 00:30:59+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1005, 21, 'robert.jones24@yahoo.com', '9068 Jessica Trace, Welchton 41964', 373.38, 'shipped', 'call before delivery', '2026-05-22 11:19:55+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1006, 14, 'tina.cameron@protonmail.com', '9284 Davis Burgs Apt. 701, Dennisfort 42424', 365.69, 'paid', 'gift wrap please', '2025-12-22 05:22:49+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1007, 10, 'lisa.ochoa@protonmail.com', '2900 Brown Manor, Jamestown 95450', 450.38, 'shipped', NULL, '2026-08-28 12:40:21+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1008, 6, 'rachel.mendez39@yahoo.com', '24908 Janice Union Suite 165, Davisport 00849', 377.55, 'delivered', NULL, '2026-10-11 22:36:17+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1009, 22, 'paula.smith58@protonmail.com', '0730 Stephenson Gateway, Lake Sandraberg 44880', 103.99, 'delivered', NULL, '2026-04-22 23:08:50+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1010, 15, 'caitlyn.brewer32@yahoo.com', '1678 Dixon Overpass Apt. 775, Hartshire 77445', 385.03, 'paid', 'gift wrap please', '2026-03-08 01:50:36+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1011, 4, 'kelly.rowe46@hotmail.com', '380 Hood Brook Apt. 355, Wolfeside 19638', 434.46, 'paid', NULL, '2026-03-29 07:27:22+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1012, 5, 'patricia.paul@yahoo.com', '97499 Christopher Walks Suite 577, Williamsport 29582', 166.76, 'delivered', 'call before delivery', '2026-01-26 05:10:43+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1013, 8, 'danielle.evans74@protonmail.com', '8214 Robertson Extensions, Reyesborough 56028', 274.58, 'paid', NULL, '2025-12-05 02:43:37+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1014, 1, 'cathy.wise99@icloud.com', '55503 Valenzuela Crossing Apt. 654, East Davidborough 43322', 324.07, 'delivered', NULL, '2026-11-19 23:51:27+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1015, 20, 'martha.williams@outlook.com', '375 James Locks Apt. 202, Morenomouth 37540', 406.70, 'paid', NULL, '2026-07-22 15:08:10+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1016, 15, 'caitlyn.brewer32@yahoo.com', '1678 Dixon Overpass Apt. 775, Hartshire 77445', 99.78, 'paid', 'leave at the back door', '2026-05-31 18:04:35+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1017, 17, 'melissa.manning96@gmail.com', '5623 Taylor Hill, Lake Jamiehaven 05885', 147.06, 'refunded', NULL, '2026-04-29 21:09:50+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1018, 21, 'robert.jones24@yahoo.com', '9068 Jessica Trace, Welchton 41964', 150.25, 'paid', NULL, '2026-08-09 02:33:29+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1019, 24, 'brandon.perry@gmail.com', '0546 Larry Creek Apt. 125, Port Patricia 66977', 361.86, 'delivered', NULL, '2026-10-22 02:36:02+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1020, 6, 'rachel.mendez39@yahoo.com', '24908 Janice Union Suite 165, Davisport 00849', 98.32, 'refunded', NULL, '2026-01-28 05:30:03+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1021, 2, 'kevin.bryan97@protonmail.com', '79563 Sierra Ports Suite 546, Port Jeffery 20303', 417.80, 'paid', 'gift wrap please', '2026-01-11 04:29:57+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1022, 4, 'kelly.rowe46@hotmail.com', '380 Hood Brook Apt. 355, Wolfeside 19638', 8.97, 'delivered', NULL, '2026-06-02 17:06:38+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1023, 5, 'patricia.paul@yahoo.com', '97499 Christopher Walks Suite 577, Williamsport 29582', 151.13, 'delivered', NULL, '2025-12-16 23:33:43+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1024, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 194.90, 'delivered', 'call before delivery', '2026-04-07 23:19:18+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1025, 12, 'jon.robinson@outlook.com', '529 Wu Orchard Suite 613, Simonview 38475', 116.17, 'paid', NULL, '2025-12-10 20:52:04+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1026, 12, 'jon.robinson@outlook.com', '529 Wu Orchard Suite 613, Simonview 38475', 356.20, 'delivered', NULL, '2026-01-20 11:14:33+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1027, 1, 'cathy.wise99@icloud.com', '55503 Valenzuela Crossing Apt. 654, East Davidborough 43322', 252.40, 'paid', NULL, '2026-08-11 06:38:47+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1028, 22, 'paula.smith58@protonmail.com', '0730 Stephenson Gateway, Lake Sandraberg 44880', 367.31, 'refunded', NULL, '2026-08-22 15:52:44+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1029, 24, 'brandon.perry@gmail.com', '0546 Larry Creek Apt. 125, Port Patricia 66977', 226.33, 'delivered', NULL, '2025-12-12 17:53:32+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1030, 10, 'lisa.ochoa@protonmail.com', '2900 Brown Manor, Jamestown 95450', 90.59, 'refunded', NULL, '2026-07-19 02:46:05+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1031, 15, 'caitlyn.brewer32@yahoo.com', '1678 Dixon Overpass Apt. 775, Hartshire 77445', 302.45, 'paid', 'call before delivery', '2025-12-14 21:57:32+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1032, 21, 'robert.jones24@yahoo.com', '9068 Jessica Trace, Welchton 41964', 363.78, 'paid', 'call before delivery', '2025-12-30 17:20:34+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1033, 21, 'robert.jones24@yahoo.com', '9068 Jessica Trace, Welchton 41964', 295.15, 'paid', 'leave at the back door', '2026-05-19 13:37:56+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1034, 6, 'rachel.mendez39@yahoo.com', '24908 Janice Union Suite 165, Davisport 00849', 433.00, 'paid', NULL, '2026-08-04 04:51:28+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1035, 14, 'tina.cameron@protonmail.com', '9284 Davis Burgs Apt. 701, Dennisfort 42424', 354.01, 'delivered', NULL, '2026-10-10 20:27:55+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1036, 13, 'taylor.poole8@protonmail.com', '558 Smith Rue Apt. 102, Lake Vickichester 90050', 320.22, 'delivered', NULL, '2026-08-18 08:28:26+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1037, 23, 'james.nelson48@hotmail.com', '0955 Gilbert Viaduct, East Jessicaville 99793', 157.11, 'paid', 'gift wrap please', '2026-01-08 02:33:38+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1038, 23, 'james.nelson48@hotmail.com', '0955 Gilbert Viaduct, East Jessicaville 99793', 67.57, 'paid', 'leave at the back door', '2026-03-24 22:32:12+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1039, 12, 'jon.robinson@outlook.com', '529 Wu Orchard Suite 613, Simonview 38475', 73.29, 'paid', NULL, '2026-03-11 09:58:26+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1040, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 168.93, 'paid', NULL, '2026-03-03 22:43:27+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1041, 5, 'patricia.paul@yahoo.com', '97499 Christopher Walks Suite 577, Williamsport 29582', 335.09, 'delivered', NULL, '2026-06-27 12:12:12+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1042, 22, 'paula.smith58@protonmail.com', '0730 Stephenson Gateway, Lake Sandraberg 44880', 58.51, 'delivered', NULL, '2026-05-07 20:03:58+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1043, 17, 'melissa.manning96@gmail.com', '5623 Taylor Hill, Lake Jamiehaven 05885', 410.68, 'paid', 'call before delivery', '2026-03-25 18:33:12+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1044, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 423.09, 'refunded', NULL, '2026-08-22 19:46:31+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1045, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 190.63, 'paid', NULL, '2026-02-20 00:30:35+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1046, 19, 'zachary.jordan57@outlook.com', '836 George Falls Suite 281, Johnborough 59018', 305.59, 'paid', NULL, '2026-05-10 13:48:06+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1047, 12, 'jon.robinson@outlook.com', '529 Wu Orchard Suite 613, Simonview 38475', 108.92, 'delivered', NULL, '2025-12-05 20:22:53+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1048, 22, 'paula.smith58@protonmail.com', '0730 Stephenson Gateway, Lake Sandraberg 44880', 180.44, 'paid', NULL, '2026-09-25 08:44:00+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1049, 18, 'lindsey.haley@outlook.com', '70134 Alan Locks Suite 145, Martinezborough 23723', 168.19, 'delivered', NULL, '2026-09-25 09:27:39+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1050, 6, 'rachel.mendez39@yahoo.com', '24908 Janice Union Suite 165, Davisport 00849', 242.57, 'delivered', NULL, '2026-04-01 23:05:28+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1051, 7, 'james.robinson80@hotmail.com', '9159 Coleman Harbor, New Wandachester 75587', 232.44, 'shipped', NULL, '2026-11-27 02:03:10+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1052, 23, 'james.nelson48@hotmail.com', '0955 Gilbert Viaduct, East Jessicaville 99793', 125.61, 'shipped', 'gift wrap please', '2026-01-18 22:16:04+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1053, 10, 'lisa.ochoa@protonmail.com', '2900 Brown Manor, Jamestown 95450', 357.01, 'shipped', NULL, '2026-02-09 05:46:17+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1054, 5, 'patricia.paul@yahoo.com', '97499 Christopher Walks Suite 577, Williamsport 29582', 376.66, 'paid', 'leave at the back door', '2025-12-02 15:01:49+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1055, 22, 'paula.smith58@protonmail.com', '0730 Stephenson Gateway, Lake Sandraberg 44880', 359.76, 'paid', NULL, '2026-11-27 15:01:10+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1056, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 381.94, 'delivered', 'leave at the back door', '2026-02-16 13:10:06+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1057, 4, 'kelly.rowe46@hotmail.com', '380 Hood Brook Apt. 355, Wolfeside 19638', 376.94, 'shipped', NULL, '2026-03-22 17:57:18+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1058, 9, 'mandy.manning@yahoo.com', '15925 Frederick Freeway, Pacehaven 03396', 101.01, 'refunded', NULL, '2026-05-20 08:37:32+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1059, 16, 'michelle.smith@protonmail.com', '745 Mann Plains, Ericburgh 61242', 455.11, 'delivered', 'call before delivery', '2026-05-17 14:55:42+00');
INSERT INTO public.orders (id, user_id, customer_email, shipping_address, total, status, note, placed_at) VALUES (1060, 11, 'shane.white@hotmail.com', '0291 Kathleen Isle Apt. 418, Sheilastad 93599', 398.84, 'refunded', NULL, '2026-03-28 15:41:27+00');


--
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: public; Owner: shop
--

SELECT pg_catalog.setval('public.users_id_seq', 24, true);


--
-- Name: orders_id_seq; Type: SEQUENCE SET; Schema: public; Owner: shop
--

SELECT pg_catalog.setval('public.orders_id_seq', 1060, true);


--
-- PostgreSQL database dump complete
--
