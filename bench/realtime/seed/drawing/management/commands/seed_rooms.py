"""`manage.py seed_rooms --rooms R --artists A`: (re)creates the benchmark's rooms.

Drawing r+1 (r in 0..R) gets A participants whose DRF tokens are exactly `bench-r{r}-a{a}`
(a in 0..A), so a load generator needs no setup requests. Earlier bench data is removed first.
Users get unusable passwords: nobody logs in with one, and hashing 1,000 passwords would take
minutes.
"""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from drawing.models import Drawing, DrawingUser

USER_PREFIX = "bench-r"


class Command(BaseCommand):
    help = "(Re)create R drawings with ids 1..R, each with A token-authenticated participants."

    def add_arguments(self, parser):
        parser.add_argument("--rooms", type=int, required=True)
        parser.add_argument("--artists", type=int, required=True)

    def handle(self, *args, rooms, artists, **options):
        if rooms < 1 or artists < 1:
            raise CommandError("--rooms and --artists must be at least 1")
        User = get_user_model()
        with transaction.atomic():
            DrawingUser.objects.all().delete()
            Drawing.objects.all().delete()
            User.objects.filter(username__startswith=USER_PREFIX).delete()  # tokens cascade

            users = []
            for r in range(rooms):
                for a in range(artists):
                    user = User(username=f"{USER_PREFIX}{r}-a{a}")
                    user.set_unusable_password()
                    users.append(user)
            User.objects.bulk_create(users, batch_size=1000)
            by_name = {
                u.username: u for u in User.objects.filter(username__startswith=USER_PREFIX)
            }
            Token.objects.bulk_create(
                [Token(key=name, user=user) for name, user in by_name.items()], batch_size=1000
            )
            drawings = [
                Drawing(
                    id=r + 1,
                    title=f"bench room {r}",
                    host=by_name[f"{USER_PREFIX}{r}-a0"],
                )
                for r in range(rooms)
            ]
            Drawing.objects.bulk_create(drawings, batch_size=1000)
            DrawingUser.objects.bulk_create(
                [
                    DrawingUser(drawing_id=r + 1, user=by_name[f"{USER_PREFIX}{r}-a{a}"])
                    for r in range(rooms)
                    for a in range(artists)
                ],
                batch_size=1000,
            )
        if connection.vendor == "mysql":
            with connection.cursor() as cursor:  # later drawings continue after the bench ids
                cursor.execute(f"ALTER TABLE drawing_drawing AUTO_INCREMENT = {rooms + 1}")
        self.stdout.write(
            f"seeded {rooms} drawings x {artists} artists on {connection.vendor}"
        )
