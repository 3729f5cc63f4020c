from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = (("jobs", "0001_initial"),)

    operations = (
        migrations.AddField(
            model_name="job",
            name="log_tail",
            field=models.TextField(blank=True, default=""),
        ),
    )
