"""Django's side: a Django 5.2 virtual environment outside the repository, and for each
workload a generated Django project whose models and migrations are written the ordinary
Django way (RunPython with apps.get_model, .iterator(chunk_size=500), save(update_fields=...),
get_or_create, QuerySet.update, F()), run with `python manage.py ...`.

The settings are a plain production-like configuration: DEBUG = False (with DEBUG = True
Django keeps every query in memory), only the benchmark's apps installed (no contrib apps,
so no content types or permissions are created after migrating), AutoField keys as luamig
makes them. Bytecode is compiled before anything is timed, as in a deployed project."""
import os
import subprocess
import sys

import seeds
from harness import write

DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".cache", "luamig-bench", "django-5.2")
REQUIREMENTS = ["django>=5.2,<5.3", "psycopg[binary]"]
CHECK = "import django, psycopg; assert django.VERSION[:2] == (5, 2), django.VERSION; print(django.get_version())"


def ensure_venv(venv):
    """Returns the venv's python, creating the venv and installing Django 5.2 and psycopg
    from PyPI (with pip) the first time."""
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python):
        ok = subprocess.run([python, "-c", CHECK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if ok.returncode == 0:
            return python, ok.stdout.strip()
    print("Installing Django 5.2 into %s ..." % venv, file=sys.stderr, flush=True)
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + REQUIREMENTS, check=True)
    out = subprocess.run([python, "-c", CHECK], check=True, stdout=subprocess.PIPE, text=True)
    return python, out.stdout.strip()


MANAGE = """#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""


def project(folder, db, apps):
    """manage.py and settings for `apps` on `db` (a harness.Database)."""
    if db.backend == "sqlite":
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": db.sqlite_path()}
    else:
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": db.name, "USER": db.pg["user"],
                    "PASSWORD": db.pg["password"], "HOST": db.pg["host"], "PORT": str(db.pg["port"])}
    write(folder, "manage.py", MANAGE)
    write(folder, "benchsite/__init__.py", "")
    write(folder, "benchsite/settings.py", """SECRET_KEY = "luamig-bench"
DEBUG = False
ALLOWED_HOSTS = []
INSTALLED_APPS = %r
DATABASES = {"default": %r}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ = True
""" % (list(apps), database))
    for app in apps:
        write(folder, "%s/__init__.py" % app, "")
        write(folder, "%s/migrations/__init__.py" % app, "")


def compile_bytecode(python, folder):
    subprocess.run([python, "-m", "compileall", "-q", folder], check=True, stdout=subprocess.DEVNULL)


def py_seed(vendor_sql):
    return ("SEED = {\n    \"sqlite\": %r,\n    \"postgresql\": %r,\n}\n\n\n"
            "def seed(apps, schema_editor):\n"
            "    schema_editor.execute(SEED[schema_editor.connection.vendor], params=None)\n"
            % (vendor_sql("sqlite"), vendor_sql("postgresql")))


ID = '("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"))'


def slug_backfill(folder, db, rows):
    project(folder, db, ["blog"])
    write(folder, "blog/models.py", """from django.db import models


class Article(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, default="")
""")
    write(folder, "blog/migrations/0001_initial.py", "from django.db import migrations, models\n\n" + py_seed(lambda v: seeds.articles(v, rows)) + """

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Article",
            fields=[
                %s,
                ("title", models.CharField(max_length=200)),
                ("slug", models.SlugField(default="", max_length=200)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
""" % ID)
    write(folder, "blog/migrations/0002_backfill.py", """from django.db import migrations
from django.utils.text import slugify


def backfill(apps, schema_editor):
    Article = apps.get_model("blog", "Article")
    for article in Article.objects.filter(slug="").iterator(chunk_size=500):
        article.slug = slugify(article.title)
        article.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [("blog", "0001_initial")]
    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
""")
    return ["migrate", "blog", "0001"], ["migrate", "blog", "0002"]


def uuid_fill(folder, db, rows):
    project(folder, db, ["inventory"])
    write(folder, "inventory/models.py", """from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    uuid = models.UUIDField(unique=True)
""")
    write(folder, "inventory/migrations/0001_initial.py", "from django.db import migrations, models\n\n" + py_seed(lambda v: seeds.items(v, rows)) + """

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                %s,
                ("name", models.CharField(max_length=100)),
                ("uuid", models.UUIDField(null=True)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
""" % ID)
    # Django's documented recipe for adding a unique field to a table with rows.
    write(folder, "inventory/migrations/0002_fill_uuid.py", """import uuid

from django.db import migrations, models


def fill(apps, schema_editor):
    Item = apps.get_model("inventory", "Item")
    for item in Item.objects.all().iterator(chunk_size=500):
        item.uuid = uuid.uuid4()
        item.save(update_fields=["uuid"])


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]
    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="item",
            name="uuid",
            field=models.UUIDField(unique=True),
        ),
    ]
""")
    return ["migrate", "inventory", "0001"], ["migrate", "inventory", "0002"]


def orders_to_customers(folder, db, rows, customers):
    project(folder, db, ["shop"])
    write(folder, "shop/models.py", """from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=50)
    city = models.CharField(max_length=50)

    class Meta:
        unique_together = [("name", "city")]


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT)
""")
    write(folder, "shop/migrations/0001_initial.py", "from django.db import migrations, models\n\n" + py_seed(lambda v: seeds.orders(v, rows, customers)) + """

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                %s,
                ("customer_name", models.CharField(max_length=50)),
                ("customer_city", models.CharField(max_length=50)),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
""" % ID)
    # The six steps in one migration, as in luamig's project.
    write(folder, "shop/migrations/0002_customers.py", """import django.db.models.deletion
from django.db import migrations, models


def forwards(apps, schema_editor):
    Order = apps.get_model("shop", "Order")
    Customer = apps.get_model("shop", "Customer")
    for order in Order.objects.all().iterator(chunk_size=500):
        customer, _ = Customer.objects.get_or_create(name=order.customer_name, city=order.customer_city)
        order.customer = customer
        order.save()


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="Customer",
            fields=[
                %s,
                ("name", models.CharField(max_length=50)),
                ("city", models.CharField(max_length=50)),
            ],
            options={"unique_together": {("name", "city")}},
        ),
        migrations.AddField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, to="shop.customer"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="order", name="customer_name"),
        migrations.RemoveField(model_name="order", name="customer_city"),
        migrations.AlterField(
            model_name="order",
            name="customer",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to="shop.customer"),
        ),
    ]
""" % ID)
    return ["migrate", "shop", "0001"], ["migrate", "shop", "0002"]


def bulk_update(folder, db, rows):
    project(folder, db, ["catalog"])
    write(folder, "catalog/models.py", """from django.db import models


class Product(models.Model):
    status = models.CharField(max_length=20)
    price = models.IntegerField()
""")
    write(folder, "catalog/migrations/0001_initial.py", "from django.db import migrations, models\n\n" + py_seed(lambda v: seeds.products(v, rows)) + """

class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Product",
            fields=[
                %s,
                ("status", models.CharField(max_length=20)),
                ("price", models.IntegerField()),
            ],
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
""" % ID)
    write(folder, "catalog/migrations/0002_bulk.py", """from django.db import migrations
from django.db.models import F


def bulk(apps, schema_editor):
    Product = apps.get_model("catalog", "Product")
    Product.objects.update(status="draft")
    Product.objects.update(price=F("price") + 1)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [
        migrations.RunPython(bulk, migrations.RunPython.noop),
    ]
""")
    return ["migrate", "catalog", "0001"], ["migrate", "catalog", "0002"]


def synthetic(folder, db, plan, apps=10):
    """The synthetic project of luamig_projects.synthetic_plan, as Django apps whose
    models.py holds the final state (so a no-op migrate finds no model changes)."""
    labels = ["app%d" % a for a in range(apps)]
    project(folder, db, labels)
    last_field = {app: {} for app in labels}
    for app, name, deps, model, field in plan:
        last_field[app][model] = field
        if field == 0:
            op = ('migrations.CreateModel(\n            name="Thing%d",\n            fields=[\n                %s,\n'
                  '                ("f0", models.IntegerField(null=True)),\n            ],\n        )' % (model, ID))
        else:
            op = ('migrations.AddField(\n            model_name="thing%d",\n            name="f%d",\n'
                  '            field=models.IntegerField(null=True),\n        )' % (model, field))
        write(folder, "%s/migrations/%s.py" % (app, name), """from django.db import migrations, models


class Migration(migrations.Migration):
%s    dependencies = [%s]
    operations = [
        %s,
    ]
""" % ("    initial = True\n" if name == "0001_m" else "", ", ".join("(%r, %r)" % d for d in deps), op))
    for app in labels:
        classes = "".join(
            "\n\nclass Thing%d(models.Model):\n%s" % (model, "".join(
                "    f%d = models.IntegerField(null=True)\n" % i for i in range(last + 1)))
            for model, last in sorted(last_field[app].items()))
        write(folder, "%s/models.py" % app, "from django.db import models\n%s" % classes)
