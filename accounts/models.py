"""Who may manage what: superadmins, resellers (with a resource pool) and domain admins."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Reseller(models.Model):
    """A customer organisation that owns domains and hands out resources from a pool.

    A limit of 0 means unlimited. The pool row is locked (SELECT ... FOR UPDATE) by every service
    that consumes from it, so two racing creates cannot both pass the check.
    """

    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)
    max_domains = models.PositiveIntegerField(default=0)
    max_mailboxes = models.PositiveIntegerField(default=0)
    max_aliases = models.PositiveIntegerField(default=0)
    max_quota_bytes = models.PositiveBigIntegerField(
        default=0, help_text="Total mailbox quota the reseller may hand out (0 = unlimited)."
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PanelUserManager(UserManager):
    """`createsuperuser` makes a superadmin by role too, not a "domain admin" with all rights."""

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.SUPERADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        SUPERADMIN = "superadmin", "Superadmin"
        RESELLER = "reseller", "Reseller"
        DOMAIN_ADMIN = "domainadmin", "Domain admin"

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.DOMAIN_ADMIN)
    reseller = models.ForeignKey(
        Reseller, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    # Domain admins manage exactly these domains (resellers reach theirs through `reseller`).
    managed_domains = models.ManyToManyField("domains.Domain", blank=True, related_name="admins")

    objects = PanelUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="reseller") | models.Q(reseller__isnull=False),
                name="reseller_user_has_reseller",
            )
        ]

    @property
    def is_superadmin(self) -> bool:
        return self.is_superuser or self.role == self.Role.SUPERADMIN

    @property
    def is_reseller(self) -> bool:
        return not self.is_superadmin and self.role == self.Role.RESELLER

    @property
    def is_domain_admin(self) -> bool:
        return not self.is_superadmin and self.role == self.Role.DOMAIN_ADMIN


class TwoFactorPolicy(models.Model):
    """Which roles must use two-factor authentication: one row (pk 1), set by superadmins.
    A user of a required role without a device can do nothing but enrol (docs/security.md)."""

    FIELDS = ("require_superadmin", "require_reseller", "require_domain_admin")

    require_superadmin = models.BooleanField(default=False)
    require_reseller = models.BooleanField(default=False)
    require_domain_admin = models.BooleanField(default=False)

    def __str__(self) -> str:
        return "two-factor policy"

    @classmethod
    def load(cls, *, for_update: bool = False) -> "TwoFactorPolicy":
        """The rule (all off until a superadmin saves one); reading writes nothing."""
        if for_update:
            cls.objects.get_or_create(pk=1)
            return cls.objects.select_for_update().get(pk=1)
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    def requires(self, role: str) -> bool:
        return {
            User.Role.SUPERADMIN: self.require_superadmin,
            User.Role.RESELLER: self.require_reseller,
            User.Role.DOMAIN_ADMIN: self.require_domain_admin,
        }.get(role, False)
